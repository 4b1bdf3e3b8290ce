package console

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// specPath is the OpenAPI document of the console's API, from this package.
var specPath = filepath.Join("..", "..", "schemas", "openapi.yaml")

var (
	specOnce   sync.Once
	specDoc    *openapi3.T
	specRouter routers.Router
	specErr    error
)

// loadSpec loads and validates schemas/openapi.yaml once per test binary.
func loadSpec(tb testing.TB) (*openapi3.T, routers.Router) {
	tb.Helper()
	specOnce.Do(func() {
		loader := openapi3.NewLoader()
		specDoc, specErr = loader.LoadFromFile(specPath)
		if specErr != nil {
			return
		}
		if specErr = specDoc.Validate(context.Background()); specErr != nil {
			return
		}
		// Match requests by path whatever the host the test server has.
		specDoc.Servers = nil
		specRouter, specErr = gorillamux.NewRouter(specDoc)
	})
	if specErr != nil {
		tb.Fatalf("loading %s: %v", specPath, specErr)
	}
	return specDoc, specRouter
}

// checkSpec validates a response of the console against the OpenAPI
// document: its status must be documented for the route and its body must
// match the schema. The request is validated too when validRequest is set.
func checkSpec(tb testing.TB, req *http.Request, validRequest bool, status int, header http.Header, body []byte) {
	tb.Helper()
	_, router := loadSpec(tb)
	route, params, err := router.FindRoute(req)
	if err != nil {
		tb.Errorf("%s %s: not in %s: %v", req.Method, req.URL, specPath, err)
		return
	}
	ctx := context.Background()
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if validRequest {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			tb.Errorf("%s %s: the request does not conform to %s: %v", req.Method, req.URL, specPath, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		tb.Errorf("%s %s → %d: the response does not conform to %s: %v\n%s", req.Method, req.URL, status, specPath, err, body)
	}
}

// serveAndCheck serves req with h and checks the response against the spec.
func serveAndCheck(tb testing.TB, h http.Handler, req *http.Request, validRequest bool) (*http.Response, string) {
	tb.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	checkSpec(tb, req, validRequest, res.StatusCode, res.Header, b)
	return res, string(b)
}

// TestEveryRouteIsDocumented checks both ways that the API's routes and the
// OpenAPI document's /api paths are the same.
func TestEveryRouteIsDocumented(t *testing.T) {
	doc, _ := loadSpec(t)
	c := newConsole(t, DefaultConfig(), &fakeExplainer{}, fakeDB{})
	var served []string
	for pattern := range c.apiRoutes() {
		method, path, ok := strings.Cut(pattern, " ")
		if !ok {
			t.Fatalf("route %q has no method", pattern)
		}
		served = append(served, method+" "+path)
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("route %s is not documented in %s", pattern, specPath)
		}
	}
	for path, item := range doc.Paths.Map() {
		if !strings.HasPrefix(path, "/api/") {
			continue
		}
		for method := range item.Operations() {
			if !slices.Contains(served, method+" "+path) {
				t.Errorf("%s documents %s %s, which the console does not serve", specPath, method, path)
			}
		}
	}
}
