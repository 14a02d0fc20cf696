-- Every active campaign is now leased, agent campaigns too: the instance holding a campaign
-- paces it and hosts its agents' shifts, and writes with its lease the address other
-- instances reach it at, so that a phone page landing elsewhere is passed through to it.
ALTER TABLE campaign_pacers ADD COLUMN address TEXT NOT NULL DEFAULT '';
