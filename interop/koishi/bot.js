// A Koishi bot as a bot author would write it, connected to yunhu-onebot
// with the OneBot adapter in the protocol KOISHI_PROTOCOL names (ws,
// ws-reverse or http). The interop test runs it and kills it.
const { Context, h } = require('koishi')
const HTTP = require('@koishijs/plugin-http').default
const Server = require('@koishijs/plugin-server').default
const OneBot = require('koishi-plugin-adapter-onebot').default

const env = process.env
const ctx = new Context()
ctx.plugin(HTTP)
if (env.KOISHI_PORT) {
  // ws-reverse and http receive on Koishi's own server.
  ctx.plugin(Server, { host: '127.0.0.1', port: Number(env.KOISHI_PORT) })
}
const config = { protocol: env.KOISHI_PROTOCOL, selfId: env.KOISHI_SELF_ID }
if (env.KOISHI_ENDPOINT) config.endpoint = env.KOISHI_ENDPOINT
if (env.KOISHI_TOKEN) config.token = env.KOISHI_TOKEN
if (env.KOISHI_SECRET) config.secret = env.KOISHI_SECRET
if (env.KOISHI_PATH) config.path = env.KOISHI_PATH
ctx.plugin(OneBot, config)

ctx.middleware(async (session, next) => {
  switch (session.content) {
    case 'ping':
      return 'pong'
    case 'quote me':
      // A reply to the user's message, naming them: message ids and user
      // ids make the round trip through Koishi.
      return h('', h.quote(session.messageId), h.at(session.userId), ' here you are')
    case 'who':
      return `user ${session.userId} channel ${session.channelId} self ${session.selfId}`
  }
  return next()
})
ctx.on('bot-status-updated', (bot) => console.log('koishi: bot status', bot.status))
ctx.start()
