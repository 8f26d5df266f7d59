"""Which language an item is written in, and alerts translated into the reader's language."""
