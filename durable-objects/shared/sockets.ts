/** Sending on and closing hibernatable sockets, where a socket may already be closing. */

export function safeSend(ws: WebSocket, data: string): void {
  try {
    ws.send(data);
  } catch {
    // The socket is closing; its close handler cleans up.
  }
}

/** Returns 1 if the socket was closed now, 0 if it already was. */
export function safeClose(ws: WebSocket, code: number, reason: string): number {
  try {
    ws.close(code, reason);
    return 1;
  } catch {
    return 0;
  }
}
