"""Salesforce record ids: the case-safe 18-character form of a 15-character id."""

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def to_18_char_id(record_id: str) -> str:
    """The 18-character id for a 15- or 18-character one; other lengths raise ValueError.

    Each of the three suffix characters encodes which letters of one 5-character chunk are
    upper case (https://help.salesforce.com/s/articleView?id=000385585).
    """
    if len(record_id) == 18:
        return record_id
    if len(record_id) != 15 or not record_id.isalnum():
        raise ValueError(f"{record_id!r} is not a Salesforce id (15 or 18 letters and digits)")
    suffix = ""
    for start in range(0, 15, 5):
        bits = sum(1 << position for position, char in enumerate(record_id[start : start + 5]) if char.isupper())
        suffix += _SUFFIX_ALPHABET[bits]
    return record_id + suffix
