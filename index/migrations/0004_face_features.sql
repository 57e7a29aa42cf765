-- 0004: identity features move to their own table. A face row is now a few
-- hundred bytes, so scans of face metadata (clustering bookkeeping, person
-- pages, the change feed) no longer read 4 KiB of features per face, and an
-- assignment change no longer rewrites the feature blob.

CREATE TABLE face_features (
    face_id  INTEGER PRIMARY KEY REFERENCES faces (id) ON DELETE CASCADE,
    features BLOB    NOT NULL                       -- float32 little-endian, L2-normalised
);
INSERT INTO face_features (face_id, features) SELECT id, features FROM faces;

DROP TRIGGER faces_rev_update;
ALTER TABLE faces DROP COLUMN features;

CREATE TRIGGER faces_rev_update AFTER UPDATE OF file_id, frame_time, x1, y1, x2, y2, age, male_prob, birth_year,
        model, forgotten_by ON faces BEGIN
    UPDATE change_seq SET rev = rev + 1 WHERE id = 1;
    UPDATE faces SET rev = (SELECT rev FROM change_seq WHERE id = 1) WHERE id = new.id;
END;

CREATE TRIGGER face_features_rev_update AFTER UPDATE ON face_features BEGIN
    UPDATE change_seq SET rev = rev + 1 WHERE id = 1;
    UPDATE faces SET rev = (SELECT rev FROM change_seq WHERE id = 1) WHERE id = new.face_id;
END;
