-- S3 bucket policies the gateway answers and enforces, by bucket name.
-- Bucket names are lowercase and exact, so the name is the key as given.
CREATE TABLE bucket_policies (
    bucket   TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    document TEXT NOT NULL,
    updated  BIGINT NOT NULL
);
