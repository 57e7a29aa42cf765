-- 0002: labelled age samples for training the age head: a face of a person
-- with a known birth year on a photo with a known capture time.

CREATE TABLE age_samples (
    face_id       INTEGER PRIMARY KEY REFERENCES faces (id) ON DELETE CASCADE,
    person_id     INTEGER NOT NULL REFERENCES persons (id),
    birth_year    INTEGER NOT NULL,
    capture_time  INTEGER NOT NULL,
    age           REAL    NOT NULL,                       -- label: years between mid birth year and capture
    predicted_age REAL    NOT NULL,                       -- what the model said at analysis time
    created_at    INTEGER NOT NULL
);
CREATE INDEX age_samples_person ON age_samples (person_id);
