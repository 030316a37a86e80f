"""An outbox payload is written by hand for speed: it must be the JSON encoder's text,
character for character, whatever the message holds."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from core.commands import Button, Priority
from core.ids import ChatRef
from core.outbox import NewMessage, encode_payload

# Any text at all: quotes, backslashes, control characters, CJK, emoji, lone surrogates.
text = st.text(st.characters(), max_size=40)
buttons = st.lists(
    st.lists(st.builds(Button, text, text, text), min_size=1, max_size=3), max_size=3
).map(lambda rows: tuple(tuple(row) for row in rows))
links = st.lists(st.tuples(text, text), max_size=3).map(tuple)


@settings(max_examples=300)
@given(text, text, buttons, text, links)
def test_a_payload_is_what_the_json_encoder_writes(
    body: str,
    html: str,
    rows: tuple[tuple[Button, ...], ...],
    callback_id: str,
    link_pairs: tuple[tuple[str, str], ...],
) -> None:
    message = NewMessage(
        chat=ChatRef("test:1"),
        text=body,
        priority=Priority.ROUTINE,
        html=html,
        buttons=rows,
        callback_id=callback_id,
        links=link_pairs,
    )
    assert message.payload() == encode_payload(message.body())


def test_a_payload_with_meta_keeps_it_and_reads_back_whole() -> None:
    message = NewMessage(
        chat=ChatRef("test:1"),
        text="王阿姨今天没有回复",
        priority=Priority.ALERT,
        buttons=((Button("✅ 收到", "ack.1..2.sig", "✅"),),),
        meta={"resident": "王阿姨", "step": 1},
    )
    assert json.loads(message.payload()) == {
        "text": "王阿姨今天没有回复",
        "html": "",
        "buttons": [[{"label": "✅ 收到", "token": "ack.1..2.sig", "emoji": "✅"}]],
        "callback_id": "",
        "links": [],
        "meta": {"resident": "王阿姨", "step": 1},
    }
