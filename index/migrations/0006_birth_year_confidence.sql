-- 0006: how sure faced is of a person's automatic birth year (0..1: the
-- probability that the year is within two years, see cluster.EstimateBirth);
-- NULL when unknown or when the user gave the year.

ALTER TABLE persons ADD COLUMN birth_year_confidence REAL;
