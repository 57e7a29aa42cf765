-- 0010: the largest persons' centroids in order without reading every sum
-- (Centroids: the review's merge suggestions compare the 2 000 largest).

CREATE INDEX person_centroids_size ON person_centroids (dim, n DESC, person_id);
