-- Leadset administration: names are unique regardless of case, as people read them
-- ("Spring" and "spring" are the same list to an admin).
CREATE UNIQUE INDEX leadsets_name_nocase ON leadsets (LOWER(name));
