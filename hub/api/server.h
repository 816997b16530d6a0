/* hub-api's HTTP server: libmicrohttpd with one internal polling thread, which alone uses the
 * server's PostgreSQL connection. Linked by hub-api's main.c and by the API's tests, which
 * start it on an ephemeral port and talk to it over a real socket. */
#ifndef HUB_API_SERVER_H
#define HUB_API_SERVER_H

#include <hub/err.h>
#include <hub/keyfile.h>

#include <stdint.h>

typedef struct hub_api_opts {
        const char *dsn;          /* PostgreSQL conninfo of the hub's database */
        const char *address;      /* IPv4 address to listen on, e.g. "127.0.0.1" */
        int port;                 /* 0: any free port (hub_api_server_port tells which) */
        unsigned timeout_s;       /* idle connection timeout */
        unsigned max_connections; /* concurrent connections */
        const hub_key_t *hub_pub; /* checks tree-head signatures in provenance; may be NULL */
} hub_api_opts_t;

typedef struct hub_api_server hub_api_server_t;

/* Listen and serve in a thread of libmicrohttpd's until hub_api_server_stop(). The options'
 * strings and key are copied. Errors: HUB_E_CONFIG (bad address), HUB_E_IO (cannot listen),
 * HUB_E_NOMEM. */
int hub_api_server_start(const hub_api_opts_t *o, hub_api_server_t **out, hub_err_t *err);
int hub_api_server_port(const hub_api_server_t *srv);
void hub_api_server_stop(hub_api_server_t *srv);

#endif
