-- Multi-file programs (files + entry instead of code): the whole program as JSON {"entry": ..., "files": {...}}.
-- NULL for a code request. The code column keeps the entry file's source, so listings and old readers still work.
ALTER TABLE executions ADD COLUMN files_json TEXT;
