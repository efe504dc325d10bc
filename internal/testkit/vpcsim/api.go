package vpcsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	vpc "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc/v20170312"
)

// Version is the VPC API version the simulation answers (X-TC-Version).
const Version = "2017-03-12"

// maxBody is the largest request body accepted: the API's limit for POST
// requests signed with TC3-HMAC-SHA256.
const maxBody = 10 << 20

// apiError is an error answer: a code and a message.
type apiError struct{ code, msg string }

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func errorf(code, format string, args ...any) *apiError {
	return &apiError{code, fmt.Sprintf(format, args...)}
}

// APIHandler returns the VPC API, as https://vpc.tencentcloudapi.com/
// serves it: one endpoint, POST application/json bodies, the action in
// X-TC-Action, version 2017-03-12 in X-TC-Version, the region in
// X-TC-Region, signed with TC3-HMAC-SHA256 by the account's key or by a
// temporary key and its X-TC-Token. Every answer is HTTP 200 with a JSON
// body {"Response": {..., "RequestId": "<uuid>"}}, an error being
// {"Response": {"Error": {"Code", "Message"}, "RequestId"}}. Actions:
// DescribeHaVips, DescribeNetworkInterfaces, AssignPrivateIpAddresses,
// UnassignPrivateIpAddresses, MigratePrivateIpAddress and
// DescribeVpcTaskResult; any other is InvalidAction.
func (c *Cloud) APIHandler() http.Handler {
	return http.HandlerFunc(c.serveAPI)
}

func (c *Cloud) serveAPI(w http.ResponseWriter, r *http.Request) {
	requestID := newUUID()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	action := r.Header.Get("X-TC-Action")
	var params map[string]any
	if json.Unmarshal(body, &params) != nil {
		params = nil
	}
	call := Call{Time: c.now(), Action: action, Region: r.Header.Get("X-TC-Region"), Params: params, RequestID: requestID}
	c.mu.Lock()
	idx := len(c.calls)
	c.calls = append(c.calls, call)
	f := c.takeFaultLocked(action)
	c.mu.Unlock()

	var resp any
	var aerr *apiError
	switch {
	case err != nil:
		aerr = errorf(CodeInvalidParameter, "reading the body: %v", err)
	case len(body) > maxBody:
		aerr = errorf("RequestSizeLimitExceeded", "the body exceeds %d bytes", maxBody)
	default:
		if f != nil && f.Latency > 0 {
			t := time.NewTimer(f.Latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
			}
		}
		if f != nil && f.Code != "" {
			msg := f.Message
			if msg == "" {
				msg = "injected by vpcsim"
			}
			aerr = &apiError{f.Code, msg}
			break
		}
		var secretID string
		secretID, aerr = c.checkRequest(r, body)
		c.mu.Lock()
		c.calls[idx].SecretID = secretID
		c.mu.Unlock()
		if aerr != nil {
			break
		}
		var failTask string
		if f != nil {
			failTask = f.TaskFailure
		}
		resp, aerr = c.dispatch(action, r.Header.Get("X-TC-Region"), body, requestID, failTask)
	}

	var out []byte
	if aerr != nil {
		out, _ = json.Marshal(map[string]any{"Response": map[string]any{
			"Error":     map[string]string{"Code": aerr.code, "Message": aerr.msg},
			"RequestId": requestID,
		}})
	} else {
		// Marshal the action's answer, then add RequestId to it.
		b, _ := json.Marshal(resp)
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		_ = d.Decode(&m)
		if m == nil {
			m = map[string]any{}
		}
		m["RequestId"] = requestID
		out, _ = json.Marshal(map[string]any{"Response": m})
	}
	c.mu.Lock()
	if aerr != nil {
		c.calls[idx].ErrCode = aerr.code
	}
	c.calls[idx].Done = true
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-TC-RequestId", requestID)
	w.Write(out)
}

// checkRequest checks what every request needs: POST, a good signature,
// the version, a JSON body, a region.
func (c *Cloud) checkRequest(r *http.Request, body []byte) (string, *apiError) {
	if r.Method != http.MethodPost {
		return "", errorf(CodeInvalidParameter, "vpcsim simulates POST requests only, not %s", r.Method)
	}
	secretID, ae := c.authenticate(r, body)
	if ae != nil {
		return secretID, &apiError{ae.code, ae.msg}
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return secretID, errorf(CodeInvalidParameter, "Content-Type %q: vpcsim takes application/json only", r.Header.Get("Content-Type"))
	}
	if r.Header.Get("X-TC-Action") == "" {
		return secretID, errorf(CodeMissingParameter, "The request is missing a required parameter `Action`.")
	}
	if v := r.Header.Get("X-TC-Version"); v != Version {
		return secretID, errorf(CodeNoSuchVersion, "The API version `%s` does not exist.", v)
	}
	if r.Header.Get("X-TC-Region") == "" {
		return secretID, errorf(CodeMissingParameter, "The request is missing a required parameter `Region`.")
	}
	return secretID, nil
}

// decode decodes body into v, refusing parameters v does not have, as the
// API refuses parameters an action does not take.
func decode(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return errorf(CodeUnknownParameter, "The parameter %s is not recognized.", strings.Trim(name, `"`))
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return errorf(CodeInvalidParameter, "The parameter `%s` has the wrong type: %v", te.Field, err)
		}
		return errorf(CodeInvalidParameter, "The body is not valid JSON: %v", err)
	}
	return nil
}

// dispatch runs action. inRegion is false when the request names another
// region than the VPC's: it then sees no resources.
func (c *Cloud) dispatch(action, region string, body []byte, requestID, failTask string) (any, *apiError) {
	inRegion := region == c.Region()
	switch action {
	case "DescribeHaVips":
		var p vpc.DescribeHaVipsRequestParams
		if err := decode(body, &p); err != nil {
			return nil, err
		}
		return c.describeHaVips(&p, inRegion)
	case "DescribeNetworkInterfaces":
		var p vpc.DescribeNetworkInterfacesRequestParams
		if err := decode(body, &p); err != nil {
			return nil, err
		}
		return c.describeNetworkInterfaces(&p, inRegion)
	case "AssignPrivateIpAddresses":
		var p vpc.AssignPrivateIpAddressesRequestParams
		if err := decode(body, &p); err != nil {
			return nil, err
		}
		return c.assignPrivateIPs(&p, inRegion, requestID)
	case "UnassignPrivateIpAddresses":
		var p vpc.UnassignPrivateIpAddressesRequestParams
		if err := decode(body, &p); err != nil {
			return nil, err
		}
		return c.unassignPrivateIPs(&p, inRegion, requestID)
	case "MigratePrivateIpAddress":
		var p vpc.MigratePrivateIpAddressRequestParams
		if err := decode(body, &p); err != nil {
			return nil, err
		}
		return c.migratePrivateIP(&p, inRegion, requestID, failTask)
	case "DescribeVpcTaskResult":
		var p vpc.DescribeVpcTaskResultRequestParams
		if err := decode(body, &p); err != nil {
			return nil, err
		}
		return c.describeVpcTaskResult(&p, inRegion)
	}
	return nil, errorf(CodeInvalidAction, "The action `%s` is not supported by vpcsim (or does not exist).", action)
}
