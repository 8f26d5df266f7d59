"""Words and HTML for chat replies, without Telegram's library: the catalogs fill them in."""
