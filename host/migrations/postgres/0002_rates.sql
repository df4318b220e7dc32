-- Outbound rate budgets: the next free slot per budget, shared by every node.
CREATE TABLE rates (
    key     TEXT   PRIMARY KEY,
    next_ms BIGINT NOT NULL
);
