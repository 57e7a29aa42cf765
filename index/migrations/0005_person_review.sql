-- 0005: persons the user hid (never exported) and pairs of persons the user
-- said are different (a merge suggestion rejected).

ALTER TABLE persons ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;

CREATE TABLE different_persons (
    a          INTEGER NOT NULL REFERENCES persons (id),
    b          INTEGER NOT NULL REFERENCES persons (id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (a, b),
    CHECK (a < b)
) WITHOUT ROWID;
