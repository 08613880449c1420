/**
 * Cuts the Temporal API's protobuf definitions (the JSON that @temporalio/proto builds at load) down
 * to what some calls need, for a CLI bundle that makes only those calls (scripts/build.mjs). The
 * closure is computed with protobufjs' own name resolution; every enum and every service stays
 * (services without the methods left out), since the SDK reads them by name when it loads.
 */
import protobuf from 'protobufjs';

/**
 * @param {object} json       the `nested` tree given to Root#addJSON
 * @param {object} keep
 * @param {Record<string, string[]>} keep.methods  service full name → the methods kept (others: none)
 * @param {string[]} keep.types  message types (or whole packages) kept besides the methods' (e.g. error
 *   details, which the SDK decodes by name)
 * @returns {object} the pruned tree
 */
export function pruneProtos(json, { methods, types }) {
  const root = protobuf.Root.fromJSON({ nested: json });
  root.resolveAll();
  const kept = new Set();
  const visit = (type) => {
    if (kept.has(type.fullName)) return;
    kept.add(type.fullName);
    for (let p = type.parent; p; p = p.parent) kept.add(p.fullName);
    if (type instanceof protobuf.Type) {
      for (const field of type.fieldsArray) if (field.resolvedType) visit(field.resolvedType);
    }
    // A namespace named in `types` stands for everything in it.
    if (type instanceof protobuf.Namespace) for (const nested of type.nestedArray) visit(nested);
  };
  for (const [serviceName, names] of Object.entries(methods)) {
    const service = root.lookupService(serviceName);
    for (const name of names) {
      const method = service.methods[name];
      if (!method) throw new Error(`${serviceName} has no method ${name}`);
      visit(method.resolvedRequestType);
      visit(method.resolvedResponseType);
    }
  }
  for (const name of types) visit(root.lookup(name) ?? fail(`no type ${name}`));

  const prune = (nested, prefix) => {
    const out = {};
    for (const [name, value] of Object.entries(nested)) {
      const fullName = `${prefix}.${name}`;
      if (value.values)
        out[name] = value; // an enum
      else if (value.methods) {
        const names = methods[fullName.slice(1)] ?? [];
        out[name] = { ...value, methods: Object.fromEntries(names.map((m) => [m, value.methods[m]])) };
      } else if (value.fields) {
        if (kept.has(fullName)) out[name] = value;
      } else if (value.nested) {
        const inner = prune(value.nested, fullName);
        if (Object.keys(inner).length) out[name] = { ...value, nested: inner };
      }
    }
    return out;
  };
  return prune(json, '');
}

function fail(message) {
  throw new Error(message);
}
