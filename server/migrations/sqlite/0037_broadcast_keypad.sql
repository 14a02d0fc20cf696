-- Broadcast keypad: the keys a customer may press during (or just after) the message and what
-- each does ("1=agent, 2=repeat, 9=dnc"), the campaign whose agents take a customer who asks
-- for one, and the messages around it; and, on each attempt, what became of a key press.
ALTER TABLE campaigns ADD COLUMN keypad TEXT NOT NULL DEFAULT '';
ALTER TABLE campaigns ADD COLUMN linked_campaign_id BIGINT REFERENCES campaigns (id) ON DELETE SET NULL;
ALTER TABLE campaigns ADD COLUMN hold_file TEXT;
ALTER TABLE campaigns ADD COLUMN no_agent_file TEXT;
ALTER TABLE campaigns ADD COLUMN dnc_file TEXT;
ALTER TABLE call_attempts ADD COLUMN key_outcome TEXT;
