package hotstate

import (
	"cmp"
	"reflect"
	"slices"
	"strings"
)

// Schema is what a server serves, as its registrations declared it: every
// store with the Go type of its state, every function with the types of its
// arguments and result, and every typed event with the type of its data.
// Generators (package tsgen) turn it into types for clients; it is read-only
// and taken at one moment, so take it after everything is registered.
type Schema struct {
	Stores    []StoreSchema    // by Name
	Functions []FunctionSchema // by Name
	Events    []EventSchema    // by Name
}

// StoreSchema describes a store or a family.
type StoreSchema struct {
	// Name is the store's name ("Todos") or the family's pattern ("Room:*").
	Name string
	// Family is true for a family, whose instances are named by Prefix
	// followed by a non-empty key.
	Family bool
	// Prefix is the part of a family's pattern before '*' ("Room:"); "" for
	// a static store.
	Prefix string
	// State is the Go type of the state, T of NewStore or NewFamily.
	State reflect.Type
}

// FunctionSchema describes a function. Args and Result are A and R of
// Handle; both are nil for a function registered with HandleFunc, whose
// types the server does not know.
type FunctionSchema struct {
	Name         string
	Args, Result reflect.Type
}

// EventSchema describes an event declared with NewEvent. Events sent with
// Server.Emit alone carry no type and are not listed.
type EventSchema struct {
	Name string
	Data reflect.Type
}

// typedDef is what every storeDef is: a family[T] knows its T.
type typedDef interface {
	stateType() reflect.Type
}

func (f *family[T]) stateType() reflect.Type { return reflect.TypeFor[T]() }

// Schema returns the stores, functions and typed events registered on s so
// far, each list sorted by name. The presence family "presence:*" is listed
// once a store or family asked for presence.
func (s *Server) Schema() Schema {
	var sc Schema
	s.mu.RLock()
	defs := make([]storeDef, 0, len(s.statics)+len(s.families))
	for _, d := range s.statics {
		defs = append(defs, d)
	}
	defs = append(defs, s.families...)
	for name, fn := range s.funcs {
		sc.Functions = append(sc.Functions, FunctionSchema{Name: name, Args: fn.args, Result: fn.result})
	}
	for name, t := range s.events {
		sc.Events = append(sc.Events, EventSchema{Name: name, Data: t})
	}
	s.mu.RUnlock()
	for _, d := range defs {
		st := StoreSchema{Name: d.pattern()}
		if prefix, ok := strings.CutSuffix(st.Name, "*"); ok {
			st.Family, st.Prefix = true, prefix
		}
		if td, ok := d.(typedDef); ok {
			st.State = td.stateType()
		}
		sc.Stores = append(sc.Stores, st)
	}
	slices.SortFunc(sc.Stores, func(a, b StoreSchema) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(sc.Functions, func(a, b FunctionSchema) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(sc.Events, func(a, b EventSchema) int { return cmp.Compare(a.Name, b.Name) })
	return sc
}
