-- Call lines: the most calls an agent of the campaign has at once (the one they talk on and
-- those on hold on their other lines; 1: no second line).
ALTER TABLE campaigns ADD COLUMN lines_per_agent BIGINT NOT NULL DEFAULT 2;
