-- Which agent campaigns each instance dials for its agents in (ids, comma-separated), said
-- with its trunks (trunks_at): a campaign's abandon budget is split among the instances
-- dialling it, so its abandon cap holds floor-wide (runtime::floor_shares).
ALTER TABLE instances ADD COLUMN campaigns TEXT NOT NULL DEFAULT '';
