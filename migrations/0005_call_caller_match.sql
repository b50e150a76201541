-- What the owner archive said about an inbound call's caller, at the time
-- of the call: `person` (one person has that number), `household` (several
-- people share it: a family line) or `unknown`. The person is the first
-- match; rooms are the canonical addresses of their residences.
ALTER TABLE calls ADD COLUMN caller_match TEXT;
ALTER TABLE calls ADD COLUMN caller_person_id TEXT;
ALTER TABLE calls ADD COLUMN caller_name TEXT;
ALTER TABLE calls ADD COLUMN caller_rooms TEXT;
