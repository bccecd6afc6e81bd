import {expect} from 'chai'

import {compileTemplate, parseChat} from '../../src/llm/templates.js'

describe('chat templates', () => {
  it('splits a rendered prompt at role lines (with or without #, any case)', () => {
    const text = '# system:\nYou are terse.\n\nUSER:\nHi\nthere\n#assistant :\nHello!\n# user:\n  Bye  \n'
    expect(parseChat(text)).to.deep.equal([
      {role: 'system', content: 'You are terse.'},
      {role: 'user', content: 'Hi\nthere'},
      {role: 'assistant', content: 'Hello!'},
      {role: 'user', content: 'Bye'},
    ])
  })

  it('does not split on a role word inside a line', () => {
    expect(parseChat('# user:\nthe system: is down\n')).to.deep.equal([{role: 'user', content: 'the system: is down'}])
  })

  it('reads name/content for function messages', () => {
    expect(parseChat('# function:\n## name:\nget_weather\n## content:\n{"t": 20}\n')).to.deep.equal([{role: 'function', name: 'get_weather', content: '{"t": 20}'}])
    expect(() => parseChat('# function:\nno name\n')).to.throw(/needs "name:" and "content:"/)
  })

  it('rejects text before the first role line, or no role at all', () => {
    expect(() => parseChat('Hello\n# user:\nhi')).to.throw(/must start with a role line.*"Hello"/)
    expect(() => parseChat('just text')).to.throw(/must start with a role line/)
  })

  it('renders Jinja2 with nunjucks (loops, conditionals, no autoescape, trim_blocks)', async () => {
    const template = await compileTemplate('# user:\n{% for q in items %}\n- {{ q }}\n{% endfor %}\n{% if flag %}<b>&</b>{% endif %}', 't.jinja2', 'n')
    expect(template.render({items: ['a', 'b'], flag: true})).to.equal('# user:\n- a\n- b\n<b>&</b>')
    expect(parseChat(template.render({items: ['x'], flag: false}))).to.deep.equal([{role: 'user', content: '- x'}])
  })
})
