package comment

// MaxBody is GitHub's limit on an issue comment body, in characters; a
// longer body is refused with 422.
const MaxBody = 65536

// MaxSummary is GitHub's limit on one step's job summary (1 MiB); a larger
// summary is dropped with an error annotation.
const MaxSummary = 1 << 20

// BodyLimit is the size in bytes that a body for key must fit, so that
// with the key's marker, which Upsert puts first, the comment stays within
// MaxBody. Bytes are never fewer than characters, so a body that fits is
// always accepted. The caller fits the body (the report renderer cuts
// detail to a size); this package never cuts.
func BodyLimit(key string) int {
	return MaxBody - len(KeyMarker(key)) - 1
}
