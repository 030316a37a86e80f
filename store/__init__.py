"""The stores: one implementation of the ports per database."""
