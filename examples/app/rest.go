package app

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// The REST API every framework example serves next to /ws. Each handler
// returns a status and a value to send as JSON, so a framework's own JSON
// helper sends it in one line: c.JSON(a.ListTodos()) in Gin and Echo.

// maxBody bounds a REST request body.
const maxBody = 64 << 10

// Health answers GET /api/health.
func Health() (status int, body any) {
	return http.StatusOK, map[string]bool{"ok": true}
}

// ListTodos answers GET /api/todos with the state of the Todos store.
func (a *App) ListTodos() (status int, body any) {
	return http.StatusOK, a.Todos.Get()
}

// CreateTodo answers POST /api/todos with a {"text": ...} body. It adds
// the todo through AddTodo, the code path of the todos.add function, so
// WebSocket subscribers receive the change as a patch. It answers 201
// {"id": n}, or 400 {"error": ...} for a body it cannot use.
func (a *App) CreateTodo(body io.Reader) (status int, resp any) {
	var args AddArgs
	if err := json.NewDecoder(io.LimitReader(body, maxBody)).Decode(&args); err != nil {
		return http.StatusBadRequest, map[string]string{"error": "body must be JSON like {\"text\": \"...\"}"}
	}
	id, err := a.AddTodo(args.Text)
	switch {
	case errors.Is(err, ErrEmptyText):
		return http.StatusBadRequest, map[string]string{"error": err.Error()}
	case err != nil:
		return http.StatusInternalServerError, map[string]string{"error": "internal server error"}
	}
	return http.StatusCreated, AddResult{ID: id}
}

// HandleREST registers the REST API on a net/http mux.
func (a *App) HandleREST(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w)(Health())
	})
	mux.HandleFunc("GET /api/todos", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w)(a.ListTodos())
	})
	mux.HandleFunc("POST /api/todos", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w)(a.CreateTodo(r.Body))
	})
}

func writeJSON(w http.ResponseWriter) func(status int, body any) {
	return func(status int, body any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	}
}
