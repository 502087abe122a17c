-- Search (issue 19): words as the highlights see them, whatever the database's locale.
--
-- `to_tsvector('simple', body)` left two differences from the words `services::search` finds
-- in Rust (maximal runs of Unicode letters and digits, lower-cased):
--   * case folding followed the database's LC_CTYPE, so in a `C`-locale database (the common
--     `initdb --locale=C`) only ASCII was folded: `École` did not match `école`;
--   * Postgres's parser keeps e-mail addresses, URLs, host names, file paths and numbers like
--     `3.14` as single tokens, so `mum` did not find `mum@example.org`.
-- `hearth_search_text` lower-cases with ICU's root locale and replaces every run of
-- characters that are not letters or digits (ICU's classes) by one space, so the parser only
-- ever sees plain words. Without ICU (a Postgres built without it, or a database whose encoding
-- ICU cannot serve) the database's locale decides, as before. The index and `db::search` use this one function.
DO $$
BEGIN
    -- ICU's collations exist in every ICU build but cannot serve every database encoding
    -- (not SQL_ASCII, the encoding a plain `initdb --locale=C` picks): creating the function
    -- fails there, and the database's locale folds case instead. That fallback splits at ASCII
    -- characters that are not letters or digits only: in the `C` locale `[:alnum:]` is ASCII,
    -- so letters beyond it would vanish; this way they stay in their words (unfolded).
    BEGIN
        EXECUTE $f$
            CREATE FUNCTION hearth_search_text(body text) RETURNS text
            LANGUAGE sql IMMUTABLE PARALLEL SAFE
            AS $b$ SELECT regexp_replace(lower(body COLLATE "und-x-icu"), '[^[:alnum:]]+', ' ', 'g') $b$
        $f$;
    EXCEPTION WHEN undefined_object OR feature_not_supported OR invalid_parameter_value THEN
        EXECUTE $f$
            CREATE FUNCTION hearth_search_text(body text) RETURNS text
            LANGUAGE sql IMMUTABLE PARALLEL SAFE
            AS $b$ SELECT regexp_replace(lower(body), '[\x01-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+', ' ', 'g') $b$
        $f$;
    END;
END
$$;

-- The words are stored (a generated column, computed once per insert or edit) rather than an
-- expression index: ranking reads them instead of computing every candidate's vector again,
-- and the planner has real statistics of each word's frequency, which decide whether a room
-- is walked newest first (a common word) or the GIN index is read (a rare one). Adding the
-- column rewrites `events` once.
ALTER TABLE events ADD COLUMN search_words tsvector
    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, hearth_search_text(body))) STORED;

DROP INDEX IF EXISTS events_body_search;
CREATE INDEX events_search_words ON events USING GIN (search_words)
    WHERE kind IN ('message', 'action', 'notice') AND NOT deleted;
