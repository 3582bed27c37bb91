package hotstate

// history keeps the most recent patch frames of one instance, bounded by
// count and bytes, so a client that reconnects after a short cut receives
// the patches it missed instead of a full snapshot.
type history struct {
	maxCount int
	maxBytes int

	// frames[i] moves the instance to version first+i.
	frames [][]byte
	first  uint64
	size   int
}

// add records the patch frame that produced version.
func (h *history) add(version uint64, frame []byte) {
	if h.maxCount <= 0 || len(frame) > h.maxBytes {
		h.clear()
		return
	}
	if len(h.frames) == 0 || h.first+uint64(len(h.frames)) != version {
		h.clear()
		h.first = version
	}
	h.frames = append(h.frames, frame)
	h.size += len(frame)
	for len(h.frames) > h.maxCount || h.size > h.maxBytes {
		h.size -= len(h.frames[0])
		h.frames[0] = nil
		h.frames = h.frames[1:]
		h.first++
	}
}

func (h *history) clear() {
	h.frames, h.first, h.size = nil, 0, 0
}

// since returns the frames after version up to current, and whether the
// history covers that whole range.
func (h *history) since(version, current uint64) ([][]byte, bool) {
	if version == current {
		return nil, true
	}
	if version > current || len(h.frames) == 0 || version+1 < h.first {
		return nil, false
	}
	last := h.first + uint64(len(h.frames)) - 1
	if last != current {
		return nil, false
	}
	return h.frames[version+1-h.first:], true
}
