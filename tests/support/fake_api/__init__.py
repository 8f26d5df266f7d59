"""The parts of `tests.support.fake_telegram.FakeTelegram`: records, Telegram's HTML
parser, the HTTP layer, chat state, sending rules (failures and flood limits), the Bot API
methods, and what tests drive and observe."""
