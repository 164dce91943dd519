/**
 * Baseline: Node-to-Node TCP throughput over loopback on this machine, measured with a child
 * process writing 64 KiB chunks to a server in this process, the way a broker and a client
 * share the machine.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';

const childScript = `
  const net = require('node:net');
  const [port, total] = process.argv.slice(1).map(Number);
  const chunk = Buffer.alloc(65536, 7);
  const socket = net.connect(port, '127.0.0.1', () => {
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!socket.write(chunk)) return socket.once('drain', pump);
      }
      socket.end();
    };
    pump();
  });`;

export async function loopbackMBps(totalBytes = 2 * 1024 ** 3): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const result = new Promise<number>((resolve) => {
    server.once('connection', (socket) => {
      let received = 0;
      const started = process.hrtime.bigint();
      socket.on('data', (data: Buffer) => { received += data.length; });
      socket.on('end', () => resolve(received / 1024 ** 2 / (Number(process.hrtime.bigint() - started) / 1e9)));
    });
  });
  const child = spawn(process.execPath, ['-e', childScript, String(port), String(totalBytes)], { stdio: 'ignore' });
  const mbps = await result;
  child.kill();
  server.close();
  return mbps;
}
