// 程序名：demo6.cpp，服务端用htonl(INADDR_ANY)绑定全部网卡的IP。
// sockfd: the tutorial's demo6, unchanged except the closing brace the listing lost.
#include <iostream>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <unistd.h>
#include <netdb.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
using namespace std;
int main(int argc,char *argv[])
{
  if (argc!=2)
  {
    cout << "Using:./demo6 通讯端口\nExample:./demo6 5005\n\n";   // 端口大于1024，不与其它的重复。
    cout << "注意：运行服务端程序的Linux系统的防火墙必须要开通5005端口。\n";
    cout << "      如果是云服务器，还要开通云平台的访问策略。\n\n";
    return -1;
  }
  int listenfd = -1;
  struct sockaddr_in servaddr; // 用于存放协议、端口和IP地址的结构体。
  char buffer[1024] = {0};

  //创建服务端的Socket	
  listenfd = socket(AF_INET,SOCK_STREAM,0);
  if (listenfd==-1) 
  { 
    perror("socket"); return -1; 
  }
  
  memset(&servaddr,0,sizeof(servaddr));
  servaddr.sin_family=AF_INET;                
  servaddr.sin_port=htons(atoi(argv[1])); 
    
  //指定服务端用于通讯的IP(大端序)方法1:。   
 //servaddr.sin_addr.s_addr=inet_addr("192.168.101.138");
  
  //指定服务端用于通讯的IP(大端序)方法2:。
  // 如果操作系统有多个IP，全部的IP都可以用于通讯。  
  servaddr.sin_addr.s_addr=htonl(INADDR_ANY);

  // 绑定服务端的IP和端口
  if (bind(listenfd,(struct sockaddr *)&servaddr,sizeof(servaddr))==-1)
  { 
    perror("bind"); close(listenfd); return -1; 
  }
 
  //将服务端的Socket设置为可监听状态
  if (listen(listenfd,5) == -1 ) 
  { 
    perror("listen"); close(listenfd); return -1; 
  }
 
  //受理客户端的连接请求
  //如果没有客户端连上来，accept()函数将阻塞等待。
  //如果有客户端连上来,则分配一个Socket负责和这个客户端Socket做数据收发
  int clientfd=accept(listenfd,0,0);
  if (clientfd==-1)
  {
    perror("accept"); close(listenfd); return -1; 
  }
  cout << "客户端已连接。\n";
 

  while (true)
  {
    int iret;
    memset(buffer,0,sizeof(buffer));
    // 接收客户端的请求报文，如果客户端没有发送请求报文，recv()函数将阻塞等待。
    // 如果客户端已断开连接，recv()函数将返回0。
    if ((iret=recv(clientfd,buffer,sizeof(buffer),0))<=0) 
    {
       cout << "iret=" << iret << endl;  break;   
    }
    cout << "接收：" << buffer << endl;
    strcpy(buffer,"ok");  // 生成回应报文内容。
    // 向客户端发送回应报文。
    if ((iret=send(clientfd,buffer,strlen(buffer),0))<=0) 
    { 
      perror("send"); break; 
    }
    cout << "发送：" << buffer << endl;
  }
 
  close(listenfd);   // 关闭服务端用于监听的Socket。
  close(clientfd);   // 关闭客户端连上来做处理的Socket
}
