-- The index of the log by contact moved to a database of its own, kept
-- behind the log by a worker thread (src/events/subject-index.ts): written
-- inside each append it cost the COMMIT a page of WAL per event. The new
-- index fills itself from the log; this copy is no longer read.
DROP TABLE IF EXISTS event_subjects;
