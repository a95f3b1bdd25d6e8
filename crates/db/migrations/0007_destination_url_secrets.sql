-- The credentials a destination's publish address carried besides its stream key: the
-- userinfo (rtmp://user:password@host/...) and the secret query parameters (SRT's passphrase),
-- sealed by the appliance like stream_key_enc (JSON {"username","password","query":[...]}
-- before sealing). NULL: none. The url column never holds them, nor the stream key: a key
-- pasted inside the URL (rtmp://host/app/KEY, srt://...?streamid=KEY) goes to stream_key_enc.
-- Rows stored before this migration may still hold a key inside url; SQL cannot seal, so the
-- appliance moves them once at boot (DestinationService::seal_keys_in_urls).
ALTER TABLE destinations ADD COLUMN url_secrets_enc TEXT;
