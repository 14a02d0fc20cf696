-- My Profile: what each user chooses about themself (app::model::profile). The display name
-- is the name colleagues see (NULL: the username); the theme is applied by the server-rendered
-- page; the audio devices are the browser's ids of the phone's microphone and speaker (NULL:
-- the browser's default device).
ALTER TABLE users ADD COLUMN display_name TEXT;
ALTER TABLE users ADD COLUMN theme TEXT NOT NULL DEFAULT 'light'
    CHECK (theme IN ('light', 'dark', 'high-contrast'));
ALTER TABLE users ADD COLUMN audio_input TEXT;
ALTER TABLE users ADD COLUMN audio_output TEXT;
