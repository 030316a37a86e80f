from adapters.local.adapter import LocalChatAdapter, LocalMessage

__all__ = ["LocalChatAdapter", "LocalMessage"]
