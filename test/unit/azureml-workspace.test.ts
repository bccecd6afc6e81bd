import {expect} from 'chai'
import {mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {findWorkspaceConfig, parseWorkspaceId, workspaceArmPath} from '../../src/destinations/azureml/workspace.js'
import {tempDir} from '../helpers/cli.js'

const id = (rg = 'resourceGroups') => `azureml://subscriptions/sub-1/${rg}/rg-1/providers/Microsoft.MachineLearningServices/workspaces/ws-1`

describe('azureml workspace ids and config.json', () => {
  it('parses an ARM workspace id with either resourceGroups spelling', () => {
    const expected = {subscriptionId: 'sub-1', resourceGroup: 'rg-1', workspaceName: 'ws-1'}
    expect(parseWorkspaceId(id())).to.deep.equal(expected)
    expect(parseWorkspaceId(id('resourcegroups'))).to.deep.equal(expected)
  })

  it('rejects a malformed id with the reference message', () => {
    expect(() => parseWorkspaceId('azureml://subscriptions/sub/workspaces/ws')).to.throw(
      'Malformed trace provider string, expected azureml://subscriptions/<subscription_id>/resourceGroups/<resource_group>/providers/Microsoft.MachineLearningServices/workspaces/<workspace_name>, got azureml://subscriptions/sub/workspaces/ws',
    )
    expect(() => parseWorkspaceId(id() + '/extra')).to.throw(/Malformed trace provider string/)
  })

  it('prefers .azureml/config.json over config.json, walking up from the flow folder', () => {
    const root = tempDir()
    const flow = path.join(root, 'flows', 'flow1')
    mkdirSync(path.join(root, '.azureml'), {recursive: true})
    mkdirSync(flow, {recursive: true})
    const write = (file: string, ws: string) =>
      writeFileSync(file, JSON.stringify({subscription_id: 's', resource_group: 'r', workspace_name: ws}))
    write(path.join(root, 'flows', 'config.json'), 'plain')
    write(path.join(root, '.azureml', 'config.json'), 'dotazureml')
    expect(findWorkspaceConfig(flow).workspace.workspaceName).to.equal('dotazureml')
    mkdirSync(path.join(flow, '.azureml'))
    write(path.join(flow, '.azureml', 'config.json'), 'own')
    expect(findWorkspaceConfig(flow).workspace.workspaceName).to.equal('own')
  })

  it('names the file for malformed JSON or a missing field', () => {
    const dir = tempDir()
    writeFileSync(path.join(dir, 'config.json'), '{nope')
    expect(() => findWorkspaceConfig(dir)).to.throw(new RegExp(`${path.join(dir, 'config.json')} is not valid JSON`))
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({subscription_id: 's', resource_group: ''}))
    expect(() => findWorkspaceConfig(dir)).to.throw(/is missing resource_group, workspace_name/)
  })

  it('refuses ids that would change the ARM path, from config.json and from a destination string', () => {
    const dir = tempDir()
    for (const [field, value] of [
      ['workspace_name', 'ws1/../../providers/Microsoft.Authorization/roleAssignments'],
      ['workspace_name', '..'],
      ['resource_group', 'rg?api-version=x'],
      ['resource_group', 'rg.'],
      ['subscription_id', 'sub#frag'],
      ['workspace_name', 'ws%2F..'],
    ]) {
      writeFileSync(
        path.join(dir, 'config.json'),
        JSON.stringify({subscription_id: 's', resource_group: 'r', workspace_name: 'w', [field]: value}),
      )
      expect(() => findWorkspaceConfig(dir), `${field}=${value}`).to.throw(new RegExp(`config\\.json: ${field} .* is not a valid Azure id`))
    }
    expect(() => parseWorkspaceId(id().replace('ws-1', '..'))).to.throw(/workspace_name "\.\." is not a valid Azure id/)
    expect(() => parseWorkspaceId(id().replace('rg-1', 'rg%2F..'))).to.throw(/resource_group/)
  })

  it('URL-encodes every id in the ARM path', () => {
    expect(workspaceArmPath({subscriptionId: 's', resourceGroup: 'rg (dev)', workspaceName: 'w'})).to.equal(
      '/subscriptions/s/resourceGroups/rg%20(dev)/providers/Microsoft.MachineLearningServices/workspaces/w',
    )
  })
})
