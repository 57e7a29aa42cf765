-- 0009: per-person sums of identity features (see centroids.go), so that a
-- person's mean vector (merge suggestions) is one row, not every face.
-- The sum covers the person's assigned faces that have features; a face
-- deleted with its file leaves through whichever of its assignment and
-- features goes first (the other then finds nothing to take away).

CREATE TABLE person_centroids (
    person_id INTEGER NOT NULL,
    dim       INTEGER NOT NULL,               -- feature length
    n         INTEGER NOT NULL,               -- vectors in the sum
    sum       BLOB    NOT NULL,               -- float64 little-endian
    PRIMARY KEY (person_id, dim)
);
INSERT INTO person_centroids (person_id, dim, n, sum)
    SELECT a.person_id, length(ff.features) / 4, COUNT(*), faced_vec_sum(ff.features)
    FROM assignments a JOIN face_features ff ON ff.face_id = a.face_id GROUP BY 1, 2;

CREATE TRIGGER centroid_assign AFTER INSERT ON assignments BEGIN
    INSERT INTO person_centroids (person_id, dim, n, sum)
        SELECT new.person_id, length(features) / 4, 0, zeroblob(2 * length(features)) FROM face_features WHERE face_id = new.face_id
        ON CONFLICT (person_id, dim) DO NOTHING;
    UPDATE person_centroids SET n = n + 1,
        sum = faced_vec_add(sum, (SELECT features FROM face_features WHERE face_id = new.face_id), 1)
        WHERE person_id = new.person_id AND dim = (SELECT length(features) / 4 FROM face_features WHERE face_id = new.face_id);
END;

CREATE TRIGGER centroid_unassign AFTER DELETE ON assignments BEGIN
    UPDATE person_centroids SET n = n - 1,
        sum = faced_vec_add(sum, (SELECT features FROM face_features WHERE face_id = old.face_id), -1)
        WHERE person_id = old.person_id AND dim = (SELECT length(features) / 4 FROM face_features WHERE face_id = old.face_id);
    DELETE FROM person_centroids WHERE person_id = old.person_id AND n <= 0;
END;

CREATE TRIGGER centroid_reassign AFTER UPDATE OF person_id ON assignments WHEN old.person_id <> new.person_id BEGIN
    UPDATE person_centroids SET n = n - 1,
        sum = faced_vec_add(sum, (SELECT features FROM face_features WHERE face_id = old.face_id), -1)
        WHERE person_id = old.person_id AND dim = (SELECT length(features) / 4 FROM face_features WHERE face_id = old.face_id);
    DELETE FROM person_centroids WHERE person_id = old.person_id AND n <= 0;
    INSERT INTO person_centroids (person_id, dim, n, sum)
        SELECT new.person_id, length(features) / 4, 0, zeroblob(2 * length(features)) FROM face_features WHERE face_id = new.face_id
        ON CONFLICT (person_id, dim) DO NOTHING;
    UPDATE person_centroids SET n = n + 1,
        sum = faced_vec_add(sum, (SELECT features FROM face_features WHERE face_id = new.face_id), 1)
        WHERE person_id = new.person_id AND dim = (SELECT length(features) / 4 FROM face_features WHERE face_id = new.face_id);
END;

CREATE TRIGGER centroid_features_insert AFTER INSERT ON face_features BEGIN
    INSERT INTO person_centroids (person_id, dim, n, sum)
        SELECT person_id, length(new.features) / 4, 0, zeroblob(2 * length(new.features)) FROM assignments WHERE face_id = new.face_id
        ON CONFLICT (person_id, dim) DO NOTHING;
    UPDATE person_centroids SET n = n + 1, sum = faced_vec_add(sum, new.features, 1)
        WHERE person_id = (SELECT person_id FROM assignments WHERE face_id = new.face_id) AND dim = length(new.features) / 4;
END;

CREATE TRIGGER centroid_features_delete AFTER DELETE ON face_features BEGIN
    UPDATE person_centroids SET n = n - 1, sum = faced_vec_add(sum, old.features, -1)
        WHERE person_id = (SELECT person_id FROM assignments WHERE face_id = old.face_id) AND dim = length(old.features) / 4;
    DELETE FROM person_centroids WHERE person_id = (SELECT person_id FROM assignments WHERE face_id = old.face_id) AND n <= 0;
END;

CREATE TRIGGER centroid_features_update AFTER UPDATE OF features ON face_features BEGIN
    UPDATE person_centroids SET n = n - 1, sum = faced_vec_add(sum, old.features, -1)
        WHERE person_id = (SELECT person_id FROM assignments WHERE face_id = old.face_id) AND dim = length(old.features) / 4;
    DELETE FROM person_centroids WHERE person_id = (SELECT person_id FROM assignments WHERE face_id = old.face_id) AND n <= 0;
    INSERT INTO person_centroids (person_id, dim, n, sum)
        SELECT person_id, length(new.features) / 4, 0, zeroblob(2 * length(new.features)) FROM assignments WHERE face_id = new.face_id
        ON CONFLICT (person_id, dim) DO NOTHING;
    UPDATE person_centroids SET n = n + 1, sum = faced_vec_add(sum, new.features, 1)
        WHERE person_id = (SELECT person_id FROM assignments WHERE face_id = new.face_id) AND dim = length(new.features) / 4;
END;
