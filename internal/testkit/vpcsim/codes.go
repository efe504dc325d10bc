package vpcsim

// Error codes the simulated API answers with. Each is a code of the real
// VPC API: the common codes of Tencent Cloud API 3.0 and the codes the
// SDK's vpc/v20170312/errors.go lists. The SDK returns them as
// *errors.TencentCloudSDKError whose GetCode() is the code.
const (
	// CodeSignatureFailure: the signature does not match the request
	// (wrong SecretKey, body changed, wrong credential scope).
	CodeSignatureFailure = "AuthFailure.SignatureFailure"
	// CodeSecretIDNotFound: the SecretId is neither the account's key nor
	// a temporary key the metadata service handed out.
	CodeSecretIDNotFound = "AuthFailure.SecretIdNotFound"
	// CodeTokenFailure: a temporary key came without its token, with
	// another token, or after it expired.
	CodeTokenFailure = "AuthFailure.TokenFailure"
	// CodeSignatureExpire: X-TC-Timestamp is more than five minutes away
	// from the server's clock.
	CodeSignatureExpire = "AuthFailure.SignatureExpire"
	// CodeInvalidAuthorization: the Authorization header is missing or
	// not TC3-HMAC-SHA256.
	CodeInvalidAuthorization = "AuthFailure.InvalidAuthorization"

	// CodeInvalidAction: X-TC-Action names an action the VPC API (or this
	// simulation) does not have.
	CodeInvalidAction = "InvalidAction"
	// CodeNoSuchVersion: X-TC-Version is not 2017-03-12.
	CodeNoSuchVersion = "NoSuchVersion"
	// CodeMissingParameter: a required parameter (or X-TC-Region) is
	// missing.
	CodeMissingParameter = "MissingParameter"
	// CodeInvalidParameter: the request is not JSON or not POST.
	CodeInvalidParameter = "InvalidParameter"
	// CodeUnknownParameter: the body has a parameter the action does not
	// take.
	CodeUnknownParameter = "UnknownParameter"
	// CodeFilterInvalidKey: a filter name the action does not know.
	CodeFilterInvalidKey = "InvalidParameter.FilterInvalidKey"
	// CodeCoexist: IDs and Filters given together.
	CodeCoexist = "InvalidParameter.Coexist"
	// CodeInvalidParameterValue: a value that is wrong for the resources
	// named, such as migrating between ENIs of different subnets.
	CodeInvalidParameterValue = "InvalidParameterValue"
	// CodeMalformed: a value that does not parse (an IP address).
	CodeMalformed = "InvalidParameterValue.Malformed"
	// CodeRange: an address outside the ENI's subnet.
	CodeRange = "InvalidParameterValue.Range"
	// CodeReserved: an address the subnet reserves (network, gateway,
	// broadcast).
	CodeReserved = "InvalidParameterValue.Reserved"
	// CodeLimitExceeded: Limit above 100.
	CodeLimitExceeded = "InvalidParameterValue.LimitExceeded"
	// CodeDuplicatePara: the same address twice in one request.
	CodeDuplicatePara = "InvalidParameterValue.DuplicatePara"

	// CodeResourceNotFound: an ENI or task that does not exist (in this
	// region); UnassignPrivateIpAddresses of an address the ENI does not
	// hold.
	CodeResourceNotFound = "ResourceNotFound"
	// CodeResourceInUse: AssignPrivateIpAddresses of an address another
	// ENI (or an HAVIP) holds.
	CodeResourceInUse = "ResourceInUse"
	// CodePrimaryIP: migrating or unassigning an ENI's primary address.
	CodePrimaryIP = "UnsupportedOperation.PrimaryIp"
	// CodeResourceMismatch: MigratePrivateIpAddress's source ENI does not
	// hold the address (it was moved meanwhile, or is an HAVIP).
	CodeResourceMismatch = "UnsupportedOperation.ResourceMismatch"
	// CodeMutexTaskRunning: a migration of the same address is still
	// running.
	CodeMutexTaskRunning = "UnsupportedOperation.MutexOperationTaskRunning"

	// CodeRequestLimitExceeded: throttled (only by an injected Fault).
	CodeRequestLimitExceeded = "RequestLimitExceeded"
	// CodeInternalError: the service failed (only by an injected Fault).
	CodeInternalError = "InternalError"
)

// Task states reported by DescribeVpcTaskResult.
const (
	TaskRunning = "RUNNING"
	TaskSuccess = "SUCCESS"
	TaskFailed  = "FAILED"
)
