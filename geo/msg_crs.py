"""Problem messages of geo.crs (zh, en), merged into geo.messages.MESSAGES."""

MESSAGES: dict[str, dict[str, str]] = {}
