#!/usr/bin/env python3
"""Generate crates/irsa-api/src/model/generated.rs from botocore's service models.

The operation list below is the set irsa implements; member names, required
flags, length/range limits, patterns and enum values come from the models.
Run: python3 crates/irsa-api/tools/gen_model.py > crates/irsa-api/src/model/generated.rs
"""
import gzip
import json
import os
import re
import sys

import botocore

STS_OPS = [
    "GetCallerIdentity", "AssumeRole", "AssumeRoleWithWebIdentity", "GetSessionToken",
    "GetAccessKeyInfo", "DecodeAuthorizationMessage", "GetWebIdentityToken",
]
IAM_OPS = [
    # users and access keys
    "CreateUser", "GetUser", "ListUsers", "UpdateUser", "DeleteUser",
    "TagUser", "UntagUser", "ListUserTags",
    "CreateAccessKey", "ListAccessKeys", "UpdateAccessKey", "DeleteAccessKey", "GetAccessKeyLastUsed",
    "PutUserPolicy", "GetUserPolicy", "ListUserPolicies", "DeleteUserPolicy",
    # roles
    "CreateRole", "GetRole", "ListRoles", "UpdateRole", "UpdateRoleDescription",
    "UpdateAssumeRolePolicy", "DeleteRole",
    "PutRolePolicy", "GetRolePolicy", "ListRolePolicies", "DeleteRolePolicy",
    "TagRole", "UntagRole", "ListRoleTags",
    # managed policies
    "CreatePolicy", "GetPolicy", "ListPolicies", "DeletePolicy",
    "CreatePolicyVersion", "GetPolicyVersion", "ListPolicyVersions", "SetDefaultPolicyVersion",
    "DeletePolicyVersion", "TagPolicy", "UntagPolicy", "ListPolicyTags", "ListEntitiesForPolicy",
    # attachments and boundaries
    "AttachRolePolicy", "DetachRolePolicy", "ListAttachedRolePolicies",
    "AttachUserPolicy", "DetachUserPolicy", "ListAttachedUserPolicies",
    "PutRolePermissionsBoundary", "DeleteRolePermissionsBoundary",
    "PutUserPermissionsBoundary", "DeleteUserPermissionsBoundary",
    # OIDC providers
    "CreateOpenIDConnectProvider", "GetOpenIDConnectProvider", "ListOpenIDConnectProviders",
    "DeleteOpenIDConnectProvider", "AddClientIDToOpenIDConnectProvider",
    "RemoveClientIDFromOpenIDConnectProvider", "UpdateOpenIDConnectProviderThumbprint",
    "TagOpenIDConnectProvider", "UntagOpenIDConnectProvider", "ListOpenIDConnectProviderTags",
    # simulation and account
    "SimulatePrincipalPolicy", "SimulateCustomPolicy",
    "GetAccountSummary", "GetAccountAuthorizationDetails",
    "EnableOutboundWebIdentityFederation", "DisableOutboundWebIdentityFederation",
    "GetOutboundWebIdentityFederationInfo",
]

RUST_KEYWORDS = {"type", "match", "ref", "move", "self", "crate", "fn", "impl", "use", "mod", "loop"}


def load(service, version):
    base = os.path.join(os.path.dirname(botocore.__file__), "data", service, version)
    for name in ("service-2.json", "service-2.json.gz"):
        path = os.path.join(base, name)
        if os.path.exists(path):
            opener = gzip.open if name.endswith(".gz") else open
            with opener(path, "rt") as f:
                return json.load(f)
    raise SystemExit(f"no model for {service}")


def snake(name):
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()
    return s + "_" if s in RUST_KEYWORDS else s


def static_name(service, shape):
    return f"{service.upper()}_{snake(shape).upper()}".replace("__", "_")


def num(v):
    if v is None:
        return "None"
    return f"Some({int(v)})"


def rust_str(s):
    return 'r##"' + s + '"##'


out = []
emit = out.append
struct_types = {}  # Rust type name -> (service, shape name, members)


def gen_service(service, model, ops):
    shapes = model["shapes"]
    done = set()
    order = []

    def visit(name):
        if name in done:
            return
        done.add(name)
        shape = shapes[name]
        if shape["type"] == "list":
            visit(shape["member"]["shape"])
        elif shape["type"] == "structure":
            for m in shape["members"].values():
                visit(m["shape"])
        order.append(name)

    for op in ops:
        if op not in model["operations"]:
            raise SystemExit(f"{service}: operation {op} not in model")
        inp = model["operations"][op].get("input")
        if inp:
            visit(inp["shape"])

    input_shapes = {model["operations"][op]["input"]["shape"] for op in ops if model["operations"][op].get("input")}
    for name in order:
        if name in input_shapes:
            continue
        shape = shapes[name]
        t = shape["type"]
        if t == "string":
            kind = "ShapeKind::String"
        elif t == "integer":
            kind = "ShapeKind::Integer"
        elif t == "long":
            kind = "ShapeKind::Long"
        elif t == "boolean":
            kind = "ShapeKind::Boolean"
        elif t == "timestamp":
            kind = "ShapeKind::Timestamp"
        elif t == "list":
            kind = f"ShapeKind::List(&{static_name(service, shape['member']['shape'])})"
        elif t == "structure":
            kind = f"ShapeKind::Structure(&{static_name(service, name)}_MEMBERS)"
            emit_members(service, shapes, name, shape)
            struct_types.setdefault(name, []).append((service, shape))
        else:
            raise SystemExit(f"unsupported shape type {t} for {name}")
        enum = ", ".join(rust_str(e) for e in shape.get("enum", []))
        emit(f"pub static {static_name(service, name)}: Shape = Shape {{")
        emit(f"    name: {rust_str(name)},")
        emit(f"    kind: {kind},")
        emit(f"    min: {num(shape.get('min'))},")
        emit(f"    max: {num(shape.get('max'))},")
        emit(f"    pattern: {('Some(' + rust_str(shape['pattern']) + ')') if 'pattern' in shape else 'None'},")
        emit(f"    enum_values: &[{enum}],")
        emit(f"    sensitive: {'true' if shape.get('sensitive') else 'false'},")
        emit("    regex: OnceLock::new(),")
        emit("};")

    for op in ops:
        inp = model["operations"][op].get("input")
        const = static_name(service, op)
        if inp:
            shape = shapes[inp["shape"]]
            emit_members(service, shapes, inp["shape"], shape, const + "_INPUT")
            members = f"&{const}_INPUT_MEMBERS"
        else:
            members = "&[]"
        emit(f"pub static {const}: OperationSpec = OperationSpec {{")
        emit(f"    name: {rust_str(op)},")
        emit(f"    service: Service::{service.capitalize()},")
        emit(f"    input: {members},")
        emit("};")


def emit_members(service, shapes, name, shape, const=None):
    const = (const or static_name(service, name)) + "_MEMBERS"
    req = set(shape.get("required", []))
    emit(f"static {const}: [Member; {len(shape['members'])}] = [")
    for mname, m in shape["members"].items():
        wire = m.get("locationName", mname)
        emit(f"    Member {{ name: {rust_str(wire)}, required: {'true' if mname in req else 'false'}, shape: &{static_name(service, m['shape'])} }},")
    emit("];")


def rust_type(service_shapes, member):
    shape = service_shapes[member["shape"]]
    t = shape["type"]
    if t == "string" and shape.get("sensitive"):
        # Bearer credentials (the web identity token) never show in Debug.
        return "irsa_core::SecretString", "secret"
    if t == "string":
        return "String", "string"
    if t == "integer":
        return "i32", "i32"
    if t == "long":
        return "i64", "i64"
    if t == "boolean":
        return "bool", "bool"
    if t == "timestamp":
        return "time::OffsetDateTime", "timestamp"
    if t == "list":
        inner = service_shapes[shape["member"]["shape"]]
        if inner["type"] == "string":
            return "Vec<String>", "string_list"
        if inner["type"] == "structure":
            return f"Vec<{shape['member']['shape']}>", "struct_list"
    if t == "structure":
        return member["shape"], "structure"
    raise SystemExit(f"no Rust type for {member}")


def gen_struct(type_name, service_shapes, shape, doc):
    req = set(shape.get("required", []))
    emit(f"/// {doc}")
    emit("#[derive(Debug, Clone, PartialEq, Default)]")
    emit(f"pub struct {type_name} {{")
    for mname, m in shape["members"].items():
        ty, _ = rust_type(service_shapes, m)
        if mname not in req and not ty.startswith("Vec<"):
            ty = f"Option<{ty}>"
        emit(f"    pub {snake(mname)}: {ty},")
    emit("}")
    emit("")
    emit(f"impl {type_name} {{")
    param = "f" if shape["members"] else "_f"
    emit(f"    fn from_fields({param}: &mut Fields) -> Self {{")
    emit("        Self {")
    for mname, m in shape["members"].items():
        wire = m.get("locationName", mname)
        ty, how = rust_type(service_shapes, m)
        required = mname in req and not ty.startswith("Vec<")
        field = snake(mname)
        if how == "struct_list":
            inner = ty[4:-1]
            emit(f"            {field}: f.struct_list({rust_str(wire)}, {inner}::from_fields),")
        elif how == "string_list":
            emit(f"            {field}: f.string_list({rust_str(wire)}),")
        elif required:
            emit(f"            {field}: f.{how}({rust_str(wire)}).unwrap_or_default(),")
        else:
            emit(f"            {field}: f.{how}({rust_str(wire)}),")
    emit("        }")
    emit("    }")
    emit("}")
    emit("")


def main():
    sts = load("sts", "2011-06-15")
    iam = load("iam", "2010-05-08")
    emit("// @generated by crates/irsa-api/tools/gen_model.py from botocore " + botocore.__version__ + ".")
    emit("// Do not edit by hand: change the generator's operation list and re-run it.")
    emit("#![allow(clippy::all, clippy::pedantic)]")
    emit("")
    emit("use std::sync::OnceLock;")
    emit("")
    emit("use super::decode::{decode_operation, Fields};")
    emit("use super::spec::{Member, OperationSpec, Shape, ShapeKind};")
    emit("use crate::error::ApiError;")
    emit("use crate::protocol::query::Params;")
    emit("use crate::Service;")
    emit("")
    gen_service("sts", sts, STS_OPS)
    gen_service("iam", iam, IAM_OPS)
    all_ops = [("sts", o) for o in STS_OPS] + [("iam", o) for o in IAM_OPS]
    names = [o for _, o in all_ops]
    assert len(names) == len(set(names)), "operation names must be unique across STS and IAM"
    emit("")
    emit("/// Every operation irsa implements, STS first.")
    emit(f"pub static OPERATIONS: [&OperationSpec; {len(all_ops)}] = [")
    for svc, op in all_ops:
        emit(f"    &{static_name(svc, op)},")
    emit("];")
    emit("")
    # Shared struct types (Tag, PolicyDescriptorType, ContextEntry ...).
    for name, variants in sorted(struct_types.items()):
        svc, shape = variants[0]
        for _, other in variants[1:]:
            assert list(other["members"]) == list(shape["members"]), name
        model = sts if svc == "sts" else iam
        gen_struct(name, model["shapes"], shape, f"The `{name}` structure of the service models.")
    models = {"sts": sts, "iam": iam}
    for svc, op in all_ops:
        model = models[svc]
        inp = model["operations"][op].get("input")
        type_name = f"{op}Request"
        shape = model["shapes"][inp["shape"]] if inp else {"members": {}}
        gen_struct(type_name, model["shapes"], shape, f"Input of {svc.upper()} `{op}`.")
        emit(f"impl {type_name} {{")
        emit("    /// Decodes and validates the request from its Query parameters.")
        emit("    pub fn decode(params: &Params) -> Result<Self, ApiError> {")
        emit(f"        let mut f = decode_operation(&{static_name(svc, op)}, params)?;")
        emit("        Ok(Self::from_fields(&mut f))")
        emit("    }")
        emit("}")
        emit("")
    emit("/// A decoded request of any implemented operation.")
    emit("#[derive(Debug, Clone, PartialEq)]")
    emit("pub enum Request {")
    for svc, op in all_ops:
        emit(f"    {op}({op}Request),")
    emit("}")
    emit("")
    emit("impl Request {")
    emit("    /// Decodes the parameters of `action` (a name from [`OPERATIONS`]).")
    emit("    /// Unknown actions return `None`; routing reports them first.")
    emit("    pub fn decode(action: &str, params: &Params) -> Option<Result<Self, ApiError>> {")
    emit("        Some(match action {")
    for svc, op in all_ops:
        emit(f"            {rust_str(op)} => {op}Request::decode(params).map(Self::{op}),")
    emit("            _ => return None,")
    emit("        })")
    emit("    }")
    emit("")
    emit("    /// The operation's name, e.g. `AssumeRole`.")
    emit("    pub fn action(&self) -> &'static str {")
    emit("        match self {")
    for svc, op in all_ops:
        emit(f"            Self::{op}(_) => {rust_str(op)},")
    emit("        }")
    emit("    }")
    emit("")
    emit("    /// The service the operation belongs to.")
    emit("    pub fn service(&self) -> Service {")
    emit("        match self {")
    for svc, op in all_ops:
        emit(f"            Self::{op}(_) => Service::{svc.capitalize()},")
    emit("        }")
    emit("    }")
    emit("}")
    sys.stdout.write("\n".join(out) + "\n")


main()
