"""Channels: the web chat API and Telegram, one gateway in front of Rasa."""
