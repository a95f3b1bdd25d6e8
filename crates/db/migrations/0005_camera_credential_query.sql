-- Where a camera reads its login inside the address. NULL: the userinfo
-- (rtsp://user:password@host/...). Otherwise JSON {"user":"<param>","password":"<param>"}:
-- the query parameters of cameras such as Reolink over RTMP
-- (...main.bcs?channel=0&stream=0&user=U&password=P). The address column never holds them;
-- they are put back only in the URL handed to FFmpeg.
ALTER TABLE cameras ADD COLUMN credential_query TEXT;
