"""What the chat commands do, apart from how Telegram delivers them."""
