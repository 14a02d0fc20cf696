-- Where each instance's media gateways take SIP from the other instances' gateways
-- (`host:port`, comma-separated): a caller who reaches a server none of whose agents can take
-- them is forwarded, gateway to gateway, to a server whose agents can.
ALTER TABLE instances ADD COLUMN sip TEXT;
