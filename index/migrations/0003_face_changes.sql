-- 0003: a change feed for incremental clustering. Every face carries the
-- revision of its last change (created, re-analysed, assigned, unassigned,
-- forgotten); deleted faces leave a tombstone with the revision of their
-- deletion. Revisions come from one counter, so "everything after rev R" is
-- exact no matter which process wrote.

CREATE TABLE change_seq (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    rev INTEGER NOT NULL
);
INSERT INTO change_seq (id, rev) VALUES (1, (SELECT COALESCE(MAX(id), 0) FROM faces));

ALTER TABLE faces ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
UPDATE faces SET rev = id;
CREATE INDEX faces_rev ON faces (rev);

CREATE TABLE face_tombstones (
    face_id INTEGER PRIMARY KEY,
    rev     INTEGER NOT NULL
);
CREATE INDEX face_tombstones_rev ON face_tombstones (rev);

CREATE TRIGGER faces_rev_insert AFTER INSERT ON faces BEGIN
    UPDATE change_seq SET rev = rev + 1 WHERE id = 1;
    UPDATE faces SET rev = (SELECT rev FROM change_seq WHERE id = 1) WHERE id = new.id;
END;

CREATE TRIGGER faces_rev_update AFTER UPDATE OF file_id, frame_time, x1, y1, x2, y2, age, male_prob, birth_year,
        features, model, forgotten_by ON faces BEGIN
    UPDATE change_seq SET rev = rev + 1 WHERE id = 1;
    UPDATE faces SET rev = (SELECT rev FROM change_seq WHERE id = 1) WHERE id = new.id;
END;

CREATE TRIGGER faces_tombstone AFTER DELETE ON faces BEGIN
    UPDATE change_seq SET rev = rev + 1 WHERE id = 1;
    INSERT OR REPLACE INTO face_tombstones (face_id, rev) VALUES (old.id, (SELECT rev FROM change_seq WHERE id = 1));
END;

CREATE TRIGGER assignments_rev_insert AFTER INSERT ON assignments BEGIN
    UPDATE change_seq SET rev = rev + 1 WHERE id = 1;
    UPDATE faces SET rev = (SELECT rev FROM change_seq WHERE id = 1) WHERE id = new.face_id;
END;

CREATE TRIGGER assignments_rev_update AFTER UPDATE ON assignments BEGIN
    UPDATE change_seq SET rev = rev + 1 WHERE id = 1;
    UPDATE faces SET rev = (SELECT rev FROM change_seq WHERE id = 1) WHERE id IN (old.face_id, new.face_id);
END;

CREATE TRIGGER assignments_rev_delete AFTER DELETE ON assignments BEGIN
    UPDATE change_seq SET rev = rev + 1 WHERE id = 1;
    UPDATE faces SET rev = (SELECT rev FROM change_seq WHERE id = 1) WHERE id = old.face_id;
END;
