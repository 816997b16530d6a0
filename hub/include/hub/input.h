/* What an operator typed: recognising identifiers, entity ids, agency codes and key ids on the
 * command line (hubctl, later the HTTP API). Pure functions: no database, no printing. */
#ifndef HUB_INPUT_H
#define HUB_INPUT_H

#include <hub/err.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The identifier types (HUB_ID_* of <hub/ident.h>) that `text` may be, most likely first, for a
 * query without --type; the caller normalises with each and looks every valid one up. Ambiguity
 * is real and kept: ten digits are a tax code or a mobile number (0912468357), so both are
 * returned. Rules, on the text without spaces, dots and dashes between digits:
 *   '@' with text on both sides            EMAIL
 *   a scheme (http://) or a '/' after text  URL
 *   '+' then digits, or 84 + 9 digits       PHONE
 *   10 digits                               TAX_CODE, PHONE
 *   13 digits (or 10 + '-' + 3)             TAX_CODE
 *   12 digits                               PERSONAL_ID
 *   9 digits                                OLD_ID_CARD
 *   11 digits starting with 0               PHONE (a number before the 2018 renumbering)
 *   letters, a dot, no spaces               DOMAIN
 * Returns how many types were written to types (at most cap); 0 when nothing fits. */
size_t hub_input_guess_ident_types(const char *text, int *types, size_t cap);

/* An entity id as shown to users, "E123" (or "e123", or "123"), to its number (> 0).
 * Errors: -HUB_E_MALFORMED. */
int hub_input_parse_entity_id(const char *text, int64_t *id, hub_err_t *err);

/* An agency code: ^[A-Z0-9][A-Z0-9-]{0,63}$ (the agencies table checks it too). */
bool hub_input_agency_code_ok(const char *code);

/* A key id: 1-64 printable ASCII characters without spaces (0x21-0x7e). */
bool hub_input_key_id_ok(const char *key_id);

#endif
