-- Outbound rate budgets: the next free slot per budget, shared by every process on the store.
CREATE TABLE rates (
    key     TEXT    PRIMARY KEY,
    next_ms INTEGER NOT NULL
) WITHOUT ROWID;
