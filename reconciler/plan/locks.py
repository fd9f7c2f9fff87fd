"""Names of the table locks statements take (what a change's ``locks`` field lists)."""

SHARE_UPDATE_EXCLUSIVE = "SHARE UPDATE EXCLUSIVE"   # blocks neither reads nor writes
SHARE = "SHARE"                                     # blocks writes
ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"               # blocks reads and writes
