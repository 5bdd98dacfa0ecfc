import Type from 'typebox';

/*
 * Response schemas every route shares. They shape what a reply may carry and write the
 * OpenAPI document.
 */

/** Every refusal: `{success: false, error, code}`, and `details` on validation errors. */
export const Failure = Type.Object({
  success: Type.Literal(false),
  error: Type.String(),
  code: Type.String(),
  details: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
});

/** The failure shape for every 4xx and 5xx answer of a route. */
export const Failures = { '4xx': Failure, '5xx': Failure };
