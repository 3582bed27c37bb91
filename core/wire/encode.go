package wire

import (
	"bytes"
	"encoding/binary"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// writer pairs a buffer with an encoder that writes into it, so frames are
// built without allocating an encoder each time.
type writer struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

var writers = sync.Pool{New: func() any {
	w := &writer{}
	w.enc = msgpack.NewEncoder(&w.buf)
	w.enc.UseCompactInts(true)
	return w
}}

// build encodes one frame with fn and returns a copy of its bytes that the
// caller owns; the copy is what lets one encoding be queued to many clients.
func build(fn func(e *msgpack.Encoder) error) ([]byte, error) {
	w := writers.Get().(*writer)
	defer writers.Put(w)
	w.buf.Reset()
	if err := fn(w.enc); err != nil {
		return nil, err
	}
	return bytes.Clone(w.buf.Bytes()), nil
}

// mustBuild is build for frames made only of strings and integers, whose
// encoding into a bytes.Buffer cannot fail.
func mustBuild(fn func(e *msgpack.Encoder) error) []byte {
	b, err := build(fn)
	if err != nil {
		panic("hotstate: encoding a fixed frame failed: " + err.Error())
	}
	return b
}

// header writes the map length and the "t" key every frame starts with.
func header(e *msgpack.Encoder, n int, t Type) error {
	if err := e.EncodeMapLen(n); err != nil {
		return err
	}
	return keyUint(e, "t", uint64(t))
}

func keyUint(e *msgpack.Encoder, k string, v uint64) error {
	if err := e.EncodeString(k); err != nil {
		return err
	}
	return e.EncodeUint(v)
}

// keyEpoch writes an epoch as 8 bytes, big-endian: an integer that wide
// would lose its low bits as a JavaScript number, and clients only compare
// and echo it.
func keyEpoch(e *msgpack.Encoder, k string, epoch uint64) error {
	if err := e.EncodeString(k); err != nil {
		return err
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], epoch)
	return e.EncodeBytes(b[:])
}

func keyString(e *msgpack.Encoder, k, v string) error {
	if err := e.EncodeString(k); err != nil {
		return err
	}
	return e.EncodeString(v)
}

func keyValue(e *msgpack.Encoder, k string, v any) error {
	if err := e.EncodeString(k); err != nil {
		return err
	}
	return EncodeValue(e, v)
}

func keyError(e *msgpack.Encoder, x Error) error {
	if err := e.EncodeString("x"); err != nil {
		return err
	}
	if err := e.EncodeMapLen(2); err != nil {
		return err
	}
	if err := keyString(e, "c", x.Code); err != nil {
		return err
	}
	return keyString(e, "m", x.Message)
}

// storeHeader writes t, s, e and v, shared by snap and patch.
func storeHeader(e *msgpack.Encoder, t Type, store string, epoch, version uint64) error {
	if err := header(e, 5, t); err != nil {
		return err
	}
	if err := keyString(e, "s", store); err != nil {
		return err
	}
	if err := keyEpoch(e, "e", epoch); err != nil {
		return err
	}
	return keyUint(e, "v", version)
}

// EncodeHello returns the hello frame for a new connection.
func EncodeHello(clientID string) []byte {
	return mustBuild(func(e *msgpack.Encoder) error {
		if err := header(e, 3, TypeHello); err != nil {
			return err
		}
		if err := keyUint(e, "p", ProtocolVersion); err != nil {
			return err
		}
		return keyString(e, "c", clientID)
	})
}

// EncodeSnap returns a snap frame holding state.
func EncodeSnap(store string, epoch, version uint64, state any) ([]byte, error) {
	return build(func(e *msgpack.Encoder) error {
		if err := storeHeader(e, TypeSnap, store, epoch, version); err != nil {
			return err
		}
		return keyValue(e, "d", state)
	})
}

// EncodePatch returns a patch frame that moves a store to version.
func EncodePatch(store string, epoch, version uint64, ops []Op) ([]byte, error) {
	return build(func(e *msgpack.Encoder) error {
		if err := storeHeader(e, TypePatch, store, epoch, version); err != nil {
			return err
		}
		if err := e.EncodeString("o"); err != nil {
			return err
		}
		return EncodeOps(e, ops)
	})
}

// EncodeResult returns a successful res frame.
func EncodeResult(id uint64, result any) ([]byte, error) {
	return build(func(e *msgpack.Encoder) error {
		if err := header(e, 3, TypeRes); err != nil {
			return err
		}
		if err := keyUint(e, "i", id); err != nil {
			return err
		}
		return keyValue(e, "r", result)
	})
}

// EncodeFailure returns a res frame that fails call id.
func EncodeFailure(id uint64, x Error) []byte {
	return mustBuild(func(e *msgpack.Encoder) error {
		if err := header(e, 3, TypeRes); err != nil {
			return err
		}
		if err := keyUint(e, "i", id); err != nil {
			return err
		}
		return keyError(e, x)
	})
}

// EncodeDel returns the frame that tells subscribers a store was deleted.
func EncodeDel(store string) []byte {
	return mustBuild(func(e *msgpack.Encoder) error {
		if err := header(e, 2, TypeDel); err != nil {
			return err
		}
		return keyString(e, "s", store)
	})
}

// EncodeEvent returns an evt frame.
func EncodeEvent(channel string, data any) ([]byte, error) {
	return EncodeStoreEvent("", channel, data)
}

// EncodeStoreEvent returns an evt frame for the subscribers of one store
// instance, which its "s" key names; without a store it is EncodeEvent.
func EncodeStoreEvent(store, channel string, data any) ([]byte, error) {
	return build(func(e *msgpack.Encoder) error {
		n := 3
		if store != "" {
			n = 4
		}
		if err := header(e, n, TypeEvt); err != nil {
			return err
		}
		if store != "" {
			if err := keyString(e, "s", store); err != nil {
				return err
			}
		}
		if err := keyString(e, "n", channel); err != nil {
			return err
		}
		return keyValue(e, "d", data)
	})
}

// EncodeErr returns an err frame; store is omitted when empty.
func EncodeErr(store string, x Error) []byte {
	return mustBuild(func(e *msgpack.Encoder) error {
		n := 2
		if store != "" {
			n = 3
		}
		if err := header(e, n, TypeErr); err != nil {
			return err
		}
		if store != "" {
			if err := keyString(e, "s", store); err != nil {
				return err
			}
		}
		return keyError(e, x)
	})
}

// EncodeSub returns a sub frame asking for a snapshot.
func EncodeSub(store string) []byte {
	return mustBuild(func(e *msgpack.Encoder) error {
		if err := header(e, 2, TypeSub); err != nil {
			return err
		}
		return keyString(e, "s", store)
	})
}

// EncodeResume returns a sub frame that offers the held epoch and version
// so the server may answer with the missed patches instead of a snapshot.
func EncodeResume(store string, epoch, version uint64) []byte {
	return mustBuild(func(e *msgpack.Encoder) error {
		if err := header(e, 4, TypeSub); err != nil {
			return err
		}
		if err := keyString(e, "s", store); err != nil {
			return err
		}
		if err := keyEpoch(e, "e", epoch); err != nil {
			return err
		}
		return keyUint(e, "v", version)
	})
}

// EncodeUnsub returns an unsub frame.
func EncodeUnsub(store string) []byte {
	return mustBuild(func(e *msgpack.Encoder) error {
		if err := header(e, 2, TypeUnsub); err != nil {
			return err
		}
		return keyString(e, "s", store)
	})
}

// EncodeRPC returns an rpc frame; nil args are left out.
func EncodeRPC(id uint64, name string, args any) ([]byte, error) {
	return build(func(e *msgpack.Encoder) error {
		n := 4
		if args == nil {
			n = 3
		}
		if err := header(e, n, TypeRPC); err != nil {
			return err
		}
		if err := keyUint(e, "i", id); err != nil {
			return err
		}
		if err := keyString(e, "n", name); err != nil {
			return err
		}
		if args == nil {
			return nil
		}
		return keyValue(e, "a", args)
	})
}
