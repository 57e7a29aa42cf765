-- 0007: the media kind of each analysed file (media.Kind: photo, raw,
-- motion for a Google/Samsung motion photo read as its still, video); kind
-- keeps telling photos from videos. Empty until the file is analysed.

ALTER TABLE files ADD COLUMN media TEXT NOT NULL DEFAULT '';
