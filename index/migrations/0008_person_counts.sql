-- 0008: person counts kept as they change, so that a page of persons (the
-- review grid at 10 000 persons / 1 M faces) never counts faces again.
-- Assignments carry their face's file and display quality (score times
-- width): triggers keep persons.face_count / file_count (person_files holds
-- how many of a person's faces each file has), and the index on (person,
-- quality) gives a person's best face and its pages of faces in order.

ALTER TABLE assignments ADD COLUMN file_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE assignments ADD COLUMN quality REAL NOT NULL DEFAULT 0;
UPDATE assignments SET (file_id, quality) = (SELECT f.file_id, f.score * (f.x2 - f.x1) FROM faces f WHERE f.id = assignments.face_id);
DROP INDEX assignments_person;
CREATE INDEX assignments_person_quality ON assignments (person_id, quality DESC, face_id);

ALTER TABLE persons ADD COLUMN face_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE persons ADD COLUMN file_count INTEGER NOT NULL DEFAULT 0;

CREATE TABLE person_files (
    person_id INTEGER NOT NULL,
    file_id   INTEGER NOT NULL,
    n         INTEGER NOT NULL,                    -- faces of the person in the file
    PRIMARY KEY (person_id, file_id)
) WITHOUT ROWID;
INSERT INTO person_files (person_id, file_id, n) SELECT person_id, file_id, COUNT(*) FROM assignments GROUP BY person_id, file_id;
UPDATE persons SET face_count = (SELECT COUNT(*) FROM assignments WHERE person_id = persons.id),
    file_count = (SELECT COUNT(*) FROM person_files WHERE person_id = persons.id);

-- The review grid's order: unnamed first, then more faces first.
CREATE INDEX persons_review ON persons (name <> '', face_count DESC, id) WHERE opt_out = 0 AND merged_into IS NULL;

CREATE TRIGGER assignments_count_insert AFTER INSERT ON assignments BEGIN
    INSERT INTO person_files (person_id, file_id, n) VALUES (new.person_id, new.file_id, 1)
        ON CONFLICT (person_id, file_id) DO UPDATE SET n = n + 1;
    UPDATE persons SET face_count = face_count + 1,
        file_count = file_count + (SELECT n = 1 FROM person_files WHERE person_id = new.person_id AND file_id = new.file_id)
        WHERE id = new.person_id;
END;

CREATE TRIGGER assignments_count_delete AFTER DELETE ON assignments BEGIN
    UPDATE person_files SET n = n - 1 WHERE person_id = old.person_id AND file_id = old.file_id;
    UPDATE persons SET face_count = face_count - 1,
        file_count = file_count - (SELECT n = 0 FROM person_files WHERE person_id = old.person_id AND file_id = old.file_id)
        WHERE id = old.person_id;
    DELETE FROM person_files WHERE person_id = old.person_id AND file_id = old.file_id AND n = 0;
END;

CREATE TRIGGER assignments_count_update AFTER UPDATE OF person_id, file_id ON assignments
        WHEN old.person_id <> new.person_id OR old.file_id <> new.file_id BEGIN
    UPDATE person_files SET n = n - 1 WHERE person_id = old.person_id AND file_id = old.file_id;
    UPDATE persons SET face_count = face_count - 1,
        file_count = file_count - (SELECT n = 0 FROM person_files WHERE person_id = old.person_id AND file_id = old.file_id)
        WHERE id = old.person_id;
    DELETE FROM person_files WHERE person_id = old.person_id AND file_id = old.file_id AND n = 0;
    INSERT INTO person_files (person_id, file_id, n) VALUES (new.person_id, new.file_id, 1)
        ON CONFLICT (person_id, file_id) DO UPDATE SET n = n + 1;
    UPDATE persons SET face_count = face_count + 1,
        file_count = file_count + (SELECT n = 1 FROM person_files WHERE person_id = new.person_id AND file_id = new.file_id)
        WHERE id = new.person_id;
END;

-- A re-analysis keeps a face's id (and its assignment) when its box moved a
-- little: the quality follows.
CREATE TRIGGER faces_quality_update AFTER UPDATE OF score, x1, x2 ON faces BEGIN
    UPDATE assignments SET quality = new.score * (new.x2 - new.x1)
        WHERE face_id = new.id AND quality <> new.score * (new.x2 - new.x1);
END;
